class FerBenchError(Exception):
    """A problem with the user's input; the CLI prints it as one line and exits with status 2."""
