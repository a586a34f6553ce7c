"""What the tests share besides fixtures (those live in conftest.py): small networks and options, training runs,
SFD-IQA weight files, process launchers, disks that fill up. Imported as ``helpers.<module>``."""
