from mockidp.cli import main

raise SystemExit(main())
