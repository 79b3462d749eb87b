"""Ownership: owners screened like parties, and the BIS Affiliates Rule (50 percent) applied to them.

`graph` does the share arithmetic through chains, `rule` holds the rule's in-force periods and turns
the arithmetic into outcomes, `inputs` reads ownership files, sheets, row owner columns and shipment
owners, and `assess` ties them to a Screener and attaches the outcome to each result.
"""
