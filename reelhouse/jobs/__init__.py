"""Media pipeline jobs: rows in the database are the truth; workers claim them under a lease."""
