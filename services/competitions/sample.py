"""placeholder"""


def load_if_ready(database):
    return None
