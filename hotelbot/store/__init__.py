"""hotelbot.store"""
