"""The live page (``liveblog web``): the event stream in a browser, over Server-Sent Events."""
