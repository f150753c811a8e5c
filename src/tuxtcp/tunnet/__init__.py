"""tuxtcp on a real wire: a TUN device in a namespace of its own, the engine driven in real
time (driver.py), the namespace and device set up and torn down (netns.py), small services
on tuxtcp sockets (services.py) and `tuxtcp serve` (command.py)."""
