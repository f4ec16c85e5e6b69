"""Django's SQLite backend on sqlean (a drop-in sqlite3 that may load extensions), with sqlite-vec loaded.

Many Python builds (pyenv's, python.org's macOS installer) ship a sqlite3 module that cannot load
extensions at all, so the embedded vector store cannot rely on the standard library's module.
"""
import sys

import sqlean
import sqlite_vec

# Django's backend binds `from sqlite3 import dbapi2` when first imported: point it at sqlean first.
sys.modules["sqlite3"] = sqlean
sys.modules["sqlite3.dbapi2"] = sqlean.dbapi2

from django.db.backends.sqlite3 import base as sqlite_base  # noqa: E402


class DatabaseWrapper(sqlite_base.DatabaseWrapper):
    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        connection.enable_load_extension(True)
        sqlite_vec.load(connection)
        connection.enable_load_extension(False)
        return connection
