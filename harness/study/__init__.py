"""Reading a study: the study file parsed once at the door into frozen dataclasses.

Nothing here runs anything or touches the results store.
"""
