"""hotelbot.admin"""
