"""Overview: what the project is and where it stands against the paper."""
import streamlit as st

st.title("Cover Genre Lab")
st.markdown(
    "Predict an album's musical genre from its cover art. This lab reproduces, and then goes "
    "past, *Predicting Musical Genre from Album Cover Art* (Lee & Baraldi, CSE 546): colour "
    "histogram analysis, scikit-learn baselines, a small CNN, AlexNet and ImageNet transfer "
    "learning over 10 genres: ambient, dubstep, folk, hiphop/rap, jazz, metal, pop, punk, "
    "rock and soul.")
st.markdown(
    "The paper's best networks reached about **18-19% test accuracy** on its 10 balanced "
    "genres (chance is 10%); metal was the easiest genre (35-47%), rock and jazz the hardest.")
st.subheader("Start here")
st.markdown(
    "- **Dataset**: browse the covers, their class balance and splits.\n"
    "- Pick another dataset in the sidebar: a folder `root/<genre>/*.jpg`, a manifest CSV or a zip.")
