#!/usr/bin/env python
import sys


def main():
    import openmemory  # noqa: F401  (prepares the process: openmemory/process.py)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
