import sys

from fer_bench.cli import main

sys.exit(main())
