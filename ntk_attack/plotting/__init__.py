"""Figures from arrays (STYLE.md rule 10): ``ntk_attack.plotting.common`` builds headless
``Figure``s, draws a measurement beside its predicted slope and saves figures atomically;
``ntk_attack.plotting.teaching`` draws the tutorial notebook's figures.

The verification's claims draw their own figures with these helpers. Nothing here selects a
GUI backend or writes files unless asked to.
"""
