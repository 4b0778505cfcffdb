"""AMI: the daemon's connection to Asterisk's manager interface."""

from callcenter.ami.channels import Channel, LiveChannels
from callcenter.ami.client import AmiClient, AmiError

__all__ = ["AmiClient", "AmiError", "Channel", "LiveChannels"]
