"""Files from users and others: reading JSON and text with errors naming the place, checking paths, writing whole."""
