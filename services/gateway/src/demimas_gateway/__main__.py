from demimas_gateway.cli import main

raise SystemExit(main())
