"""The Demimas portal: server-rendered pages of the joint pilot tracker (docs/portal.md)."""
