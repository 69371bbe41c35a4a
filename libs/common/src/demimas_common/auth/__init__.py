"""Who is calling: JWT verification, the `Principal`, agencies, scopes, regions and purposes."""
