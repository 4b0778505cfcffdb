"""The live ACD: waiting callers, offers to agents, callbacks, transfers and overflow, driven
by AGI sessions and AMI events, each concept in its own module."""
