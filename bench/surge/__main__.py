from bench.surge.run import main

raise SystemExit(main())
