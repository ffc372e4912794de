from churn_contracts.conversation import Conversation, Role, Turn


def test_renders_customer_turns_in_time_order_without_prefixes():
    turns = [
        Turn(Role.CUSTOMER, "Second thing.", 9.0),
        Turn(Role.AGENT, "How can I help?", 0.0),
        Turn(Role.CUSTOMER, "I want  to\ncancel,   honestly.", 2.5),
    ]
    assert Conversation(tuple(turns)).customer_text == "I want to cancel, honestly. Second thing."


def test_ties_keep_their_order_and_blank_turns_vanish():
    turns = [Turn(Role.CUSTOMER, "a", 1.0), Turn(Role.CUSTOMER, "  ", 1.0), Turn(Role.CUSTOMER, "b", 1.0)]
    assert Conversation(tuple(turns)).customer_text == "a b"


def test_no_customer_turns_renders_empty():
    assert Conversation(tuple([Turn(Role.AGENT, "hello", 0.0)])).customer_text == ""


def test_round_trips_through_plain_dicts():
    conversation = Conversation((Turn(Role.AGENT, "Hi.", 0.0), Turn(Role.CUSTOMER, "Bye.", 1.5)))
    again = Conversation.from_list(conversation.to_list())
    assert again == conversation
    assert again.customer_text == "Bye."
