"""`alctl report`: one self-contained HTML file."""
