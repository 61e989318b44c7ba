"""Members' sealed data stays readable: the layout and keys did not change when the
generic sealing moved to ``shared.pii``."""

import pytest

from services.membership.pii import Keys, load_keys
from shared.pii import WrongKey

SECRET = bytes(range(32))
# Sealed and hashed by the code before the move (services/membership/pii.py at 1063a9c).
SEALED = bytes.fromhex(
    "175011bd56385880335470627625c136940660daa09cada33aacfef25a5599ec918eef3fb77a84b3f6b5c0"
    "5d6d9391d3085d97076fa5bfda046d")
ID_HASH = "f6a04059fd199b0c2af8c16dc57fe393"


def test_data_sealed_before_the_move_still_opens_and_hashes_the_same():
    keys = Keys(SECRET)
    assert keys.unseal(SEALED) == {"id_number": "440300199001011234", "phone": "13912345678"}
    assert keys.lookup_hash("440300199001011234") == ID_HASH
    assert keys.unseal(keys.seal("440300199001011234", None))["phone"] is None


def test_the_key_comes_from_membership_pii_key_and_a_wrong_one_is_named():
    keys = load_keys({"MEMBERSHIP_PII_KEY": "00" * 32}, env={})
    with pytest.raises(WrongKey, match="MEMBERSHIP_PII_KEY"):
        keys.unseal(SEALED)
    with pytest.raises(ValueError, match="MEMBERSHIP_PII_KEY"):
        Keys(b"short")
