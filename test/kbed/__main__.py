import sys

from kbed.cli import main

sys.exit(main())
