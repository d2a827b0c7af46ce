from live.cli.main import main

raise SystemExit(main())
