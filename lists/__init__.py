"""The bundled restricted-party list; the build maps this folder into the package as screener.lists.bundled."""
