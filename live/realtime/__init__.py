"""What runs in the background of a server process: the hub and its ticker, likes, the flood
limits, the socket guard, the flagger and the supervisor that keeps them running."""
