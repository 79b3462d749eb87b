"""How a screening runs: worker processes and their lifetime, and the alias index kept between runs."""
