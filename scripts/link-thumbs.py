#!/usr/bin/env python3
"""link-thumbs.py OUT: hard-link each thumbnail of the library OUT/.lib into OUT under its
photo's file name (the benchmark's peer script checks thumbnails by the corpus names)."""
import os
import sqlite3
import sys

out = sys.argv[1]
db = sqlite3.connect(os.path.join(out, ".lib", "catalog.sqlite"))
for path, thumb in db.execute("SELECT path, thumb_path FROM photos WHERE thumb_path IS NOT NULL"):
    name = os.path.basename(os.fsdecode(path))
    os.link(os.path.join(out, ".lib", thumb), os.path.join(out, name))
