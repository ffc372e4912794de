"""Live calls on one machine (issue 23): Contact Lens-shaped segments into the local Kinesis, the
live function polled like an event source mapping, the agents' WebSocket and a terminal agent."""
