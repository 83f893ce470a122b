#!/usr/bin/env python
"""Django's command-line utility; the same as the installed `bms` command."""

from bms.manage import main

if __name__ == "__main__":
    main()
