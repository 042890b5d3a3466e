"""The domain: the rules, and the use cases that apply them.

Rules, pure (no I/O, no clock of their own; the store applies some of them
inside its transactions):
    numbers, content, schedule, limits   what a request may ask
    send_checks                          /mt/'s checks, cheapest first (108 ... 112)
    credentials, lockout                 API and console passwords, server keys; 114
    acceptance                           107 / 110 / 112 / 102 and the charge
    extensions                           prefix-free extension codes; whose a reply is
    finals                               how a message ends, and its refund
    fragments                            long replies put back together
    retry                                how long a failed attempt waits
    states, models                       states, statuses and records

Use cases, which read and write through the store:
    service    the customer API's: send, balance, reports, replies, records
    gates      who may come in (maintenance, lockout, credentials, binding)
    admin      the operator's: accounts, limits, switches, keywords, push
    access     the operator's for passwords, server keys, locks and dialects
    delivery   committing what channels hand back; housekeeping
"""
