"""Models shared by the API, the store and (later) the publisher and SDK."""
