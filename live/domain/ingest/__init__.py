"""Live events from streaming platforms (bilibili, Douyin, Twitch), as one normalised event:
their protocols' pure parts (signatures, packets, messages) and the chat-vote grammar."""
