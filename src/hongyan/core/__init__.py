"""The domain: the rules, and the use cases that apply them.

Rules, pure (no I/O, no clock of their own; the store applies some of them
inside its transactions):
    numbers, content, schedule, limits   what a request may ask
    credentials                          API and console passwords
    acceptance                           107 / 110 / 112 / 102 and the charge
    finals                               how a message ends, and its refund
    fragments                            long replies put back together
    states, models                       states, statuses and records

Use cases, which read and write through the store:
    service    the customer API's: send, balance, reports, replies, records
    gates      who may come in (maintenance, lockout, credentials, binding)
    admin      the operator's: accounts, limits, switches, keywords, push
    delivery   committing what channels hand back; housekeeping
"""
