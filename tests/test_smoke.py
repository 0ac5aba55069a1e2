import prelabel


def test_bundled_sop_loads() -> None:
    sop = prelabel.bundled_sop("customer_feedback_intent")
    assert "product.damaged" in sop.leaf_ids
