"""The pillars service: delivery of the ten service pillars by many agencies, enrolments, the reintegration queue
and the joint pilot projects that combine Demimas with each ministry's thematic-village programme."""
