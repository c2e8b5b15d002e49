"""The logit fingerprint: probe an endpoint's log-probabilities, compare them with local
reference bases, and decide with a null measured in each run (see :mod:`.decision`)."""
