"""People: who may sign in and what they may do.

credentials  password rules and hashing, sign-in, ending sessions
ownership    who holds owner powers; no store without an active owner, no platform
             without an active platform admin
accounts     opening, deactivating and resetting accounts; platform admin access
members      a store's members, their roles and permission groups
tokens       personal API tokens

Each module builds only on the ones listed above it.
"""
