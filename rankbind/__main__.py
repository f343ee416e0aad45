import sys

from rankbind.cli import main

sys.exit(main())
