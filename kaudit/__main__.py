from kaudit.cli import main

raise SystemExit(main())
