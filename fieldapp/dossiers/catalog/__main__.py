"""python -m fieldapp.dossiers.catalog: what the server runs in a child process."""
from fieldapp.dossiers.catalog import main

raise SystemExit(main())
