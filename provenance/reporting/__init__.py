"""Reading the store back out: exchange listings, audit reports and evidence exports.

Everything here reads already-redacted rows; exports pass text through the redactor once more
(defence in depth: a pattern added after capture still applies to what leaves the machine).
"""
