from gradwise.cli.main import main

raise SystemExit(main())
