"""Bulk import of workers from CSV or XLSX exports (Sisko P2MI, regency spreadsheets): validate every row, write
valid rows in large batches with their events, report every rejected row."""
