from . import entry

if __name__ == "__main__":   # not when a worker process (Dask's spawn) re-imports the main module
    entry()
