"""The ``riskmodel`` command line, the top floor: thin click commands over the packages
below it (:mod:`training`, :mod:`batch`, :mod:`service`, and the core, :mod:`riskmodel`).

Each subcommand lives in its own module and is imported only when it runs (or when
``--help`` lists it), so a command pays only for the libraries it uses.
"""
