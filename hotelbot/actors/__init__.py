"""hotelbot.actors"""
