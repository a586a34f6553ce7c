"""placeholder"""
def main():
    raise SystemExit('not yet')
