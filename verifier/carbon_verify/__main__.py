from carbon_verify.cli import main

raise SystemExit(main())
