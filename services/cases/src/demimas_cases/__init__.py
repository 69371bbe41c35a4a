"""Protection cases of Desa Migran EMAS: complaints, legal aid, trafficking and family-welfare cases heard in a
village, triaged, referred between agencies (and to accredited legal aid organisations) and resolved on service
clocks, with the trail of who held each case when."""
