"""Federation gateway of the Demimas backend."""
